-- Run once at build time by the postgres superuser.
CREATE DATABASE app;
\connect app
CREATE TABLE items (
    id      integer PRIMARY KEY,
    name    text NOT NULL,
    qty     integer NOT NULL,
    added   timestamptz NOT NULL
);
INSERT INTO items VALUES
    (1, 'apple',  3, '2024-01-15 12:00:00+00'),
    (2, 'banana', 12, '2024-03-31 01:30:00+00'),
    (3, 'cherry', 100, '2024-07-04 16:00:00+00');
