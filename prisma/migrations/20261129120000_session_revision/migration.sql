-- Every write to a session moves its revision, including a fan-out's check that found it already
-- right; writes compare-and-set on it (claims_version counts tokens only, and may not skip numbers).
ALTER TABLE "sessions" ADD COLUMN "revision" INTEGER NOT NULL DEFAULT 0;
