export * from './certs.js';
export { loadCoordinatorDataPlaneTls, loadServerCredentials } from './credentials.js';
export { certificateNameMismatch } from './peer-identity.js';
