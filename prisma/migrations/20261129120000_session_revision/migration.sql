-- Every write to a session moves its revision, including a fan-out's check that found it already
-- right; writes compare-and-set on it (claims_version counts tokens only, and may not skip numbers).
ALTER TABLE "sessions" ADD COLUMN "revision" INTEGER NOT NULL DEFAULT 0;

-- Whoever updates a session moves its revision, even a writer that does not know the column (an
-- instance of the previous version during a rolling deploy, an operator's hand-written UPDATE):
-- otherwise a writer holding the revision before that update would still win its compare-and-set.
CREATE FUNCTION "sessions_move_revision"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."revision" = OLD."revision" THEN
    NEW."revision" := OLD."revision" + 1;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER "sessions_move_revision" BEFORE UPDATE ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION "sessions_move_revision"();
