import { AppError } from '../../platform/errors.js';

export const organizationNotFound = (slug: string) =>
  new AppError('ORGANIZATION_NOT_FOUND', `No organization has the slug "${slug}"; find slugs with GET /v1/partner/organizations?q=`);
