"""The NIPR submission gateway: its own process and database.

It consumes ``appointments.transaction-batches.v1``, submits each transaction through a NIPR client
(the real one in deployment, the simulator in the embedded run) at most once per idempotency key,
and publishes NIPR's answers on ``nipr.transaction-results.v1``.
"""
