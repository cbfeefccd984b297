import { Type, type Static } from '@sinclair/typebox';
import { IsoDate, Metadata, PageQuery } from '../../platform/http/common.schemas.js';

export const ExternalUserId = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[^\\s/?#]+$',
  description: "Your system's stable id for the user (no spaces, slashes, ? or #)",
});

export const PartnerUser = Type.Object(
  {
    id: Type.String(),
    externalUserId: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    firstName: Type.Union([Type.String(), Type.Null()]),
    lastName: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    createdAt: IsoDate,
    updatedAt: IsoDate,
  },
  { title: 'PartnerUser' },
);
export type PartnerUserType = Static<typeof PartnerUser>;

const OptionalEmail = Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 254 }), Type.Null()]));
const OptionalName = Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()]));

export const CreateUserBody = Type.Object(
  {
    externalUserId: ExternalUserId,
    email: OptionalEmail,
    firstName: OptionalName,
    lastName: OptionalName,
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);
export type CreateUserBodyType = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    email: OptionalEmail,
    firstName: OptionalName,
    lastName: OptionalName,
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBodyType = Static<typeof UpdateUserBody>;

export const UserParams = Type.Object({ externalId: ExternalUserId });
export const ListUsersQuery = PageQuery;
