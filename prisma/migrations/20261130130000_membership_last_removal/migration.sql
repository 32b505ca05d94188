-- A membership remembers its latest removal as well as its latest change. A member-role event
-- older than a removal is stale (in source order the removal ended it) even when a later addition
-- is the membership's latest change: without this, such an event delivered late was kept, and a
-- replay of the removal, once its processed-event record was deleted, would end it then.
ALTER TABLE "business_memberships" ADD COLUMN "removed_at" TIMESTAMPTZ(6), ADD COLUMN "removed_event_id" TEXT;

-- An absent membership's latest change is its latest removal (placeholders, never a real event, aside).
UPDATE "business_memberships" SET "removed_at" = "changed_at", "removed_event_id" = "event_id"
WHERE NOT "present" AND "event_id" <> '';
