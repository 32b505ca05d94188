-- NOTIFY serialises the commits of every notifying transaction in the cluster
-- (one global lock held through the WAL flush): it capped renewals at about 400/s.
-- The relay is now woken in-process by the writer and polls for other instances' rows.
DROP TRIGGER IF EXISTS "outbox_notify_after_insert" ON "outbox";
DROP FUNCTION IF EXISTS "outbox_notify"();
