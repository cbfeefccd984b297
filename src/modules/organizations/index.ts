export { organizationsRepo } from './organizations.repo.js';
