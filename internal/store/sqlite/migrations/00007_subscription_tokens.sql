-- A pull subscription's app tokens go with it, by any path (its own delete,
-- its workspace's cascade), as an inbound webhook's do: no token is left
-- behind to block its owner's deletion.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER subscriptions_tokens AFTER DELETE ON subscriptions
BEGIN
    DELETE FROM tokens WHERE resource_id = OLD.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER subscriptions_tokens;
