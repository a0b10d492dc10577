-- A pull subscription's app tokens go with it, by any path (its own delete,
-- its workspace's cascade), as an inbound webhook's do: no token is left
-- behind to block its owner's deletion.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION subscriptions_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tokens WHERE resource_id = OLD.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER subscriptions_tokens AFTER DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_tokens();

-- +goose Down
DROP TRIGGER subscriptions_tokens ON subscriptions;
DROP FUNCTION subscriptions_tokens();
