"""Alerting: which alerts fire (rules), for which issues and releases (the minute evaluator), and how they
travel (routes: the EventBridge rules and SNS subscriptions that CDK deploys and the local stack emulates)."""
