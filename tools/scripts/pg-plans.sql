-- Fills a schema with a million runs and prints the plans of Durably's hot queries.
-- Run: psql postgres://root@127.0.0.1:5432/test -f tools/scripts/pg-plans.sql  (after migrate() created the schema durably_plans)
SET search_path = durably_plans;
TRUNCATE runs, timers, hooks, messages;
INSERT INTO runs (run_id, workflow, status, queue, args, created_at, updated_at, last_seq, finished_at, parent_run_id)
SELECT 'run-' || g, 'wf-' || (g % 50),
       CASE WHEN g % 100 = 0 THEN 'running' WHEN g % 100 = 1 THEN 'pending' WHEN g % 100 = 2 THEN 'suspended' WHEN g % 100 = 3 THEN 'failed' ELSE 'completed' END,
       'default', '[[1],1]', 1700000000000 + g * 1000, 1700000000000 + g * 1000 + 500, 5,
       CASE WHEN g % 100 > 2 THEN 1700000000000 + g * 1000 + 900 END,
       CASE WHEN g % 1000 = 7 THEN 'run-' || (g - 7) END
FROM generate_series(1, 1000000) g;
INSERT INTO timers (run_id, timer_id, fire_at) SELECT 'run-' || g, 'sleep:3', 1700000000000 + g * 997 FROM generate_series(1, 1000000, 10) g;
INSERT INTO hooks (token, run_id, correlation_id, name, created_at) SELECT md5(g::text), 'run-' || g, '2', 'approval', 1 FROM generate_series(1, 1000000, 10) g;
INSERT INTO messages (id, queue, body, available_at, created_at) SELECT 'm' || g, 'durably.q' || (g % 5), '{}', 1700000000000 + g, 1 FROM generate_series(1, 100000) g;
ANALYZE;
\echo '--- listRuns({ workflow, limit 100 }), first page'
EXPLAIN ANALYZE SELECT * FROM runs WHERE workflow = 'wf-7' ORDER BY created_at DESC, run_id DESC LIMIT 101;
\echo '--- listRuns({ workflow, cursor }), a page deep in the list'
EXPLAIN ANALYZE SELECT * FROM runs WHERE workflow = 'wf-7' AND (created_at, run_id) < (1700500000000, 'run-500000') ORDER BY created_at DESC, run_id DESC LIMIT 101;
\echo '--- listRuns({ status: failed, cursor })'
EXPLAIN ANALYZE SELECT * FROM runs WHERE status = ANY('{failed}'::text[]) AND (created_at, run_id) < (1700800000000, 'run-800000') ORDER BY created_at DESC, run_id DESC LIMIT 101;
\echo '--- listRuns({ parentRunId })'
EXPLAIN ANALYZE SELECT * FROM runs WHERE parent_run_id = 'run-500000' ORDER BY created_at DESC, run_id DESC LIMIT 101;
\echo '--- recovery sweep: listRuns({ status: [pending, running], updatedBefore })'
EXPLAIN ANALYZE SELECT * FROM runs WHERE status = ANY('{pending,running}'::text[]) AND updated_at < 1700300000000 ORDER BY created_at DESC, run_id DESC LIMIT 101;
\echo '--- claimDueTimers'
EXPLAIN ANALYZE UPDATE timers t SET lease_until = 1700000100000 FROM (SELECT run_id, timer_id FROM timers WHERE fire_at <= 1700000050000 AND lease_until <= 1700000050000 ORDER BY fire_at LIMIT 100 FOR UPDATE SKIP LOCKED) due WHERE t.run_id = due.run_id AND t.timer_id = due.timer_id RETURNING t.run_id;
\echo '--- getHook(token)'
EXPLAIN ANALYZE SELECT * FROM hooks WHERE token = md5('500001');
\echo '--- broker claim'
EXPLAIN ANALYZE UPDATE messages m SET available_at = 1700000200000, delivery_count = m.delivery_count + 1 FROM (SELECT id FROM messages WHERE queue = 'durably.q1' AND available_at <= 1700000050000 ORDER BY available_at LIMIT 10 FOR UPDATE SKIP LOCKED) due WHERE m.id = due.id RETURNING m.id;
