-- CreateEnum
CREATE TYPE "group_member_type" AS ENUM ('USER', 'BUSINESS', 'SERVICE');

-- CreateEnum
CREATE TYPE "session_status" AS ENUM ('ACTIVE', 'REVOKED');

-- CreateEnum
CREATE TYPE "processed_event_status" AS ENUM ('APPLIED', 'COMPLETED');

-- CreateEnum
CREATE TYPE "signing_key_status" AS ENUM ('ACTIVE', 'RETIRED');

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "locked" BOOLEAN NOT NULL DEFAULT false,
    "lock_changed_at" TIMESTAMPTZ(6),
    "lock_event_id" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_roles" (
    "user_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "user_roles_pkey" PRIMARY KEY ("user_id","role")
);

-- CreateTable
CREATE TABLE "businesses" (
    "id" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "status_changed_at" TIMESTAMPTZ(6),
    "status_event_id" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "businesses_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "business_roles" (
    "business_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "business_roles_pkey" PRIMARY KEY ("business_id","role")
);

-- CreateTable
CREATE TABLE "business_memberships" (
    "business_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "business_memberships_pkey" PRIMARY KEY ("business_id","user_id")
);

-- CreateTable
CREATE TABLE "business_member_roles" (
    "business_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "business_member_roles_pkey" PRIMARY KEY ("business_id","user_id","role")
);

-- CreateTable
CREATE TABLE "clients" (
    "id" TEXT NOT NULL,
    "secret_hash" TEXT,
    "service_id" TEXT,
    "scopes" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "clients_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "client_roles" (
    "client_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "client_roles_pkey" PRIMARY KEY ("client_id","role")
);

-- CreateTable
CREATE TABLE "groups" (
    "id" TEXT NOT NULL,
    "deleted_at" TIMESTAMPTZ(6),
    "deleted_event_id" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "groups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "group_roles" (
    "group_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "group_roles_pkey" PRIMARY KEY ("group_id","role")
);

-- CreateTable
CREATE TABLE "group_members" (
    "group_id" TEXT NOT NULL,
    "member_type" "group_member_type" NOT NULL,
    "member_id" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "group_members_pkey" PRIMARY KEY ("group_id","member_type","member_id")
);

-- CreateTable
CREATE TABLE "group_dependencies" (
    "group_id" TEXT NOT NULL,
    "depends_on_group_id" TEXT NOT NULL,
    "present" BOOLEAN NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,
    "event_id" TEXT NOT NULL,

    CONSTRAINT "group_dependencies_pkey" PRIMARY KEY ("group_id","depends_on_group_id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "business_id" TEXT,
    "auth_level" TEXT NOT NULL,
    "remember_me" BOOLEAN NOT NULL,
    "status" "session_status" NOT NULL DEFAULT 'ACTIVE',
    "revoked_reason" TEXT,
    "revoked_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "claims_version" INTEGER NOT NULL,
    "authorities" TEXT[],
    "scope" TEXT[],
    "token_id" TEXT NOT NULL,
    "token_expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "refresh_tokens" (
    "token_hash" TEXT NOT NULL,
    "session_id" UUID NOT NULL,
    "issued_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "rotated_at" TIMESTAMPTZ(6),

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("token_hash")
);

-- CreateTable
CREATE TABLE "processed_events" (
    "event_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "event_time" TIMESTAMPTZ(6) NOT NULL,
    "topic" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    "status" "processed_event_status" NOT NULL,
    "scope" JSONB,
    "processed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(6),

    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("event_id")
);

-- CreateTable
CREATE TABLE "dead_letters" (
    "topic" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "event_id" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("topic","partition","offset")
);

-- CreateTable
CREATE TABLE "outbox" (
    "id" BIGSERIAL NOT NULL,
    "topic" TEXT NOT NULL,
    "message_key" BYTEA,
    "value" BYTEA NOT NULL,
    "headers" JSONB NOT NULL DEFAULT '[]',
    "session_id" UUID,
    "claims_version" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "batch_id" BIGINT,

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox_relay_state" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "last_batch_id" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "outbox_relay_state_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "signing_keys" (
    "kid" TEXT NOT NULL,
    "algorithm" TEXT NOT NULL,
    "public_jwk" JSONB NOT NULL,
    "status" "signing_key_status" NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at" TIMESTAMPTZ(6),
    "published_until" TIMESTAMPTZ(6),

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("kid")
);

-- CreateIndex
CREATE INDEX "business_memberships_user_id_idx" ON "business_memberships"("user_id");

-- CreateIndex
CREATE INDEX "clients_service_id_idx" ON "clients"("service_id");

-- CreateIndex
CREATE INDEX "group_members_member_type_member_id_idx" ON "group_members"("member_type", "member_id");

-- CreateIndex
CREATE INDEX "group_dependencies_depends_on_group_id_idx" ON "group_dependencies"("depends_on_group_id");

-- CreateIndex
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- CreateIndex
CREATE INDEX "sessions_business_id_idx" ON "sessions"("business_id");

-- CreateIndex
CREATE INDEX "sessions_client_id_idx" ON "sessions"("client_id");

-- CreateIndex
CREATE INDEX "refresh_tokens_session_id_idx" ON "refresh_tokens"("session_id");

-- CreateIndex
CREATE INDEX "processed_events_processed_at_idx" ON "processed_events"("processed_at");

-- CreateIndex
CREATE INDEX "outbox_batch_id_idx" ON "outbox"("batch_id");

-- CreateIndex
CREATE UNIQUE INDEX "outbox_session_id_claims_version_key" ON "outbox"("session_id", "claims_version");

-- AddForeignKey
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "business_roles" ADD CONSTRAINT "business_roles_business_id_fkey" FOREIGN KEY ("business_id") REFERENCES "businesses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "business_memberships" ADD CONSTRAINT "business_memberships_business_id_fkey" FOREIGN KEY ("business_id") REFERENCES "businesses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "business_memberships" ADD CONSTRAINT "business_memberships_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "business_member_roles" ADD CONSTRAINT "business_member_roles_business_id_user_id_fkey" FOREIGN KEY ("business_id", "user_id") REFERENCES "business_memberships"("business_id", "user_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "client_roles" ADD CONSTRAINT "client_roles_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_roles" ADD CONSTRAINT "group_roles_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_dependencies" ADD CONSTRAINT "group_dependencies_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_dependencies" ADD CONSTRAINT "group_dependencies_depends_on_group_id_fkey" FOREIGN KEY ("depends_on_group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Not expressible in schema.prisma: the relay's single state row, and a wake-up
-- call to the relay whenever a transaction adds messages to the outbox.
INSERT INTO "outbox_relay_state" ("id", "last_batch_id") VALUES (1, 0);

CREATE FUNCTION "outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER "outbox_notify_after_insert" AFTER INSERT ON "outbox"
  FOR EACH STATEMENT EXECUTE FUNCTION "outbox_notify"();
