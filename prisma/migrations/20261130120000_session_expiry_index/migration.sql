-- Housekeeping deletes sessions some time after their absolute expiry (ENDED_SESSION_RETENTION),
-- oldest first, a batch at a time: this index finds them without scanning the table. Renewals
-- rewrite expires_at with the value it has, so their updates stay HOT.
CREATE INDEX "sessions_expires_at_idx" ON "sessions"("expires_at");
