export { clusterPageHtml } from './cluster-page-html.js';
