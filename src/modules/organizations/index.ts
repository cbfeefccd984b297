export { organizationsRepo, type OrganizationRow } from './organizations.repo.js';
export { OrganizationsService, toOrganization } from './organizations.service.js';
export { Organization, type OrganizationType } from './organizations.schemas.js';
export { ensureCuratedOrganizations, CURATED_ORGANIZATIONS } from './curated.js';
export { importOrganizations, importOrganizationsInWorker, type ImportProgress, type ImportReport, type RowError } from './import.js';
