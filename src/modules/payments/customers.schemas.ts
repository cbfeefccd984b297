import { Type, type Static } from '@sinclair/typebox';

const Name = Type.String({ maxLength: 100 });
const Email = Type.String({ format: 'email', maxLength: 254 });
const ExternalId = Type.String({ minLength: 1, maxLength: 255, description: 'Your own id for this customer; unique per account' });

export const Customer = Type.Object(
  {
    firstName: Type.Union([Type.String(), Type.Null()]),
    lastName: Type.Union([Type.String(), Type.Null()]),
    customerId: Type.String({ description: 'cus_... (the processor customer id)' }),
    partnerId: Type.Integer(),
    email: Type.Union([Type.String(), Type.Null()]),
    externalId: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'PaymentsCustomer' },
);
export type CustomerType = Static<typeof Customer>;

export const CreateCustomerBody = Type.Object(
  { firstName: Type.Optional(Name), lastName: Type.Optional(Name), email: Type.Optional(Email), externalId: Type.Optional(ExternalId) },
  { additionalProperties: false, description: 'email or externalId is required' },
);
export type CreateCustomerBodyType = Static<typeof CreateCustomerBody>;

export const UpdateCustomerBody = Type.Object(
  {
    firstName: Type.Optional(Name),
    lastName: Type.Optional(Name),
    email: Type.Optional(Email),
    externalId: Type.Optional(Type.String({ description: 'Cannot be changed; sending a different value is refused' })),
  },
  { additionalProperties: false },
);
export type UpdateCustomerBodyType = Static<typeof UpdateCustomerBody>;

export const CustomerParams = Type.Object({ customerId: Type.String({ minLength: 1, maxLength: 255 }) });
export const ExternalIdParams = Type.Object({ customerExternalId: Type.String({ minLength: 1, maxLength: 255 }) });

export const ListCustomersQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 1000, description: 'At most this many customers, oldest first' }),
    startingAfter: Type.Optional(Type.String({ maxLength: 255, description: 'A customerId: list the customers created after it' })),
  },
  { additionalProperties: false },
);
export type ListCustomersQueryType = Static<typeof ListCustomersQuery>;
