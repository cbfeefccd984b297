-- A version number for the nonprofit directory, bumped by every statement that changes it, so a
-- process that keeps the directory's search index in memory learns of any change (an `almoner orgs
-- import` run by another process, a row written with psql) by reading one row every few seconds.
--
-- A counter row rather than `max(updated_at), count(*)`: updated_at holds a transaction's start
-- time, so an import that commits after a shorter write could leave the maximum where it was, and
-- count(*) reads the whole table. The row is updated in the writer's transaction and so becomes
-- visible together with the change; an index built from one snapshot that also reads this row
-- knows exactly which version it holds. The price is that writers of the directory queue on this
-- row until they commit; imports and the curated seed already queue on the directory's advisory
-- lock, and other writes are single rows.
CREATE TABLE organization_directory_version (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  version  bigint NOT NULL
);
INSERT INTO organization_directory_version (version) VALUES (1);

-- Once per statement, not per row (an import changes 300,000 rows in a few statements), and only
-- when the statement changed a row: `INSERT ... ON CONFLICT DO NOTHING` of a known organization
-- leaves the version alone.
CREATE FUNCTION organization_directory_changed() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'TRUNCATE' THEN
    IF NOT EXISTS (SELECT 1 FROM changed_rows) THEN
      RETURN NULL;
    END IF;
  END IF;
  UPDATE organization_directory_version SET version = version + 1;
  RETURN NULL;
END $$;

CREATE TRIGGER organizations_inserted AFTER INSERT ON organizations
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION organization_directory_changed();
CREATE TRIGGER organizations_updated AFTER UPDATE ON organizations
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION organization_directory_changed();
CREATE TRIGGER organizations_deleted AFTER DELETE ON organizations
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION organization_directory_changed();
CREATE TRIGGER organizations_truncated AFTER TRUNCATE ON organizations
  FOR EACH STATEMENT EXECUTE FUNCTION organization_directory_changed();
