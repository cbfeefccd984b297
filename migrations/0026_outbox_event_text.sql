-- An event's data is written once and read only as the text partners receive (webhook bodies, the
-- events feed), so it is kept as the text it was written in. As jsonb, every write parsed it and every
-- delivery serialised it again (data::text), and the reward batch built its events with jsonb
-- functions and numeric token arithmetic. Measured on the reward batch statement (own SQL path, 10 s
-- runs): PostgreSQL CPU per action 161-167 µs with jsonb data built in SQL, 144-152 µs with json
-- data built by the API process. The change rewrites the table once, under an exclusive lock: on an
-- installation with a large outbox, run `npm run migrate` while traffic is low.
ALTER TABLE outbox_events ALTER COLUMN data TYPE json USING data::json;
