-- A dead letter carries its record unchanged, and a record may have no value (a tombstone).
ALTER TABLE "outbox" ALTER COLUMN "value" DROP NOT NULL;
