"""Alerting: rules evaluated on a schedule over every series the store holds, notifications.

settings.py        the `alerting:` section: rules, notifiers, interval, repeat and silence defaults
kind_settings.py   the rule sub-sections baseline: / anomaly: / slo: (compact dumps)
rules.py           metric vocabulary, metric selectors, rule look-back helpers
rule_pack.py       the default rules and their runbooks
model.py           Notification (what notifiers receive); the Notifier port
evaluate.py        threshold / baseline / anomaly rules against Store.series
evaluate_slo.py    SLO rules: good/total per minute, burn rates, error budget
state_store.py     alarm records, history and silences mirrored to Store.alerts
engine.py          AlertEngine: the Daemon that evaluates, remembers and notifies
dispatch.py        one notification to its notifiers under a timeout; outcome in history
status.py          alerting as JSON for `infersight alerts` and the dashboard
notifiers.py ...   notifier kinds (log, webhook, Slack, e-mail), delivery with retries

Nothing is imported here, so `infersight.settings` can import the settings models cheaply.
"""
