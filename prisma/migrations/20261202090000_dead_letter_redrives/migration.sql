-- When `dlq redrive` re-submitted a dead letter to its origin topic: running it again re-submits
-- only the others. Before, every run re-submitted every dead letter, and one still poison came
-- back as one more dead letter each time (1, 2, 4, ...).
-- IF NOT EXISTS: marking it rolled back is enough to roll back (README, Upgrades and rollbacks).
ALTER TABLE "dead_letters" ADD COLUMN IF NOT EXISTS "redriven_at" TIMESTAMPTZ(6);
