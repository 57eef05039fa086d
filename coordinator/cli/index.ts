/** The CLI's own surface: the commander program and infer's JSON shape. The work itself lives in the library folders. */
export { buildProgram } from './program.js';
export { inferJson } from './infer.js';
