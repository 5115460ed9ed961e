"""Credit, by area: applications (and the public form in self_service), earnings,
features, model versions, scoring and the policy cut-offs, decisions, outcomes.

Import from the module of the area (there is no facade here).
"""
