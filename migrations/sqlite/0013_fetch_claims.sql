-- Single flight across instances: the instance that claims (source, inn) asks the
-- registry; the others wait for its snapshot. A claim left by a dead instance expires.
CREATE TABLE fetch_claims (
    source     TEXT   NOT NULL,
    inn        TEXT   NOT NULL,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (source, inn)
);
