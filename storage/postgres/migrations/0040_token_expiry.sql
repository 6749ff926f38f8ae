-- API tokens expire. Tokens made before expiry existed get the default
-- lifetime from now, so that no script stops working on the day of the
-- upgrade.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
