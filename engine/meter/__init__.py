"""How fast to send: the pacer, delay control, link round-trip probe, idle-line detector, the
control file other processes read, and the forecast of the rate.

May import `engine.backends` (the rate limiter), `engine.config` and `engine.base`. It must never
know what is being sent: no repository, no local state, no job.
"""
