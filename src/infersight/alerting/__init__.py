"""Alerting: rules evaluated on a schedule over every series the store holds, notifications.

settings.py       the `alerting:` config section (rules, notifiers, interval, silences)
rules.py          metric vocabulary, metric selectors, rule look-back helpers
rule_pack.py      the default rules and their runbooks
model.py          Notification (what notifiers receive) and the Notifier port
evaluate.py       one rule against the store: datapoints, learned thresholds, bands, SLOs
state_store.py    alarm state, history and silences in the store (and in memory)
engine.py         AlertEngine: the Daemon that evaluates, remembers and notifies
notifiers.py ...  notifier kinds (log, webhook, Slack, e-mail), delivery with retries

Nothing is imported here, so `infersight.settings` can import the settings models cheaply.
"""
