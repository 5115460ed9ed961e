"""The web layer: one package per feature, each with its audience blueprints, views,
forms and presenters, and the small kit (`portal.web.kit`) every view uses."""
