export { Coordinator } from './coordinator.js';
export type { CoordinatorOptions } from './options.js';
export { choosePlan, type PlanChoiceInputs } from './plan-choice.js';
export { surveyLinks } from './link-survey.js';
