"""The web layer's tests, mirroring portal/web/."""

#: The header of an htmx request (the fragment, not the page).
HX = {"HX-Request": "true"}
