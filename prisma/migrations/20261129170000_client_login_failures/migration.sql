-- Failed client logins, shared by every instance so the limit (LOGIN_MAX_FAILURES within
-- LOGIN_FAILURE_WINDOW) holds for the deployment. No foreign key: unknown client ids are limited
-- too. Rows older than the window are deleted as failures are recorded.
CREATE TABLE "client_login_failures" (
    "id" BIGSERIAL NOT NULL,
    "client_id" TEXT NOT NULL,
    "failed_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "client_login_failures_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "client_login_failures_client_id_failed_at_idx" ON "client_login_failures"("client_id", "failed_at");

CREATE INDEX "client_login_failures_failed_at_idx" ON "client_login_failures"("failed_at");
