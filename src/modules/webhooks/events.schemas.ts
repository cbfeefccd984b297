import { Type, type Static } from '@sinclair/typebox';
import { IsoDate } from '../../platform/http/common.schemas.js';
import { WEBHOOK_EVENT_TYPES } from './webhooks.validation.js';

export const EVENTS_DEFAULT_LIMIT = 50;
export const EVENTS_MAX_LIMIT = 100;
/** The `after` value that means "from now on". */
export const LATEST_CURSOR = 'latest';

// `after` and `types` are checked by the service, so a bad value gets a 400 that says what a good one
// looks like; the schema only bounds their size.
export const ListEventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          'Return events after this cursor: a `nextCursor` from an earlier page, or `latest` for an empty page whose ' +
          '`nextCursor` starts from now. Absent: from the oldest event. A cursor is only meaningful with the same `types`.',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: EVENTS_MAX_LIMIT, default: EVENTS_DEFAULT_LIMIT }),
    types: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1000, description: `Comma-separated event types to include: ${WEBHOOK_EVENT_TYPES.join(', ')}` }),
    ),
  },
  { additionalProperties: false },
);
export type ListEventsQueryType = Static<typeof ListEventsQuery>;

/** The webhook delivery envelope (contract A9.2), field for field. */
export const Event = Type.Object(
  {
    id: Type.String({ description: 'evt_ id; the same id a webhook delivery of this event carries' }),
    type: Type.String(),
    createdAt: IsoDate,
    data: Type.Record(Type.String(), Type.Unknown(), { description: "The event's payload, as delivered by webhooks" }),
  },
  { title: 'Event' },
);
export type EventType = Static<typeof Event>;

export const EventPage = Type.Object(
  {
    data: Type.Array(Event),
    nextCursor: Type.String({ description: 'Pass as `after` to continue; present on every page, also an empty one' }),
    hasMore: Type.Boolean({ description: 'More events are ready now; when false, poll again later with `nextCursor`' }),
  },
  { title: 'EventPage' },
);
export type EventPageType = Static<typeof EventPage>;
