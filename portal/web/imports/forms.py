from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField

KIND_LABELS = {"vehicles": _l("Vehicles"), "drivers": _l("Drivers"), "contracts": _l("Contracts")}


class ImportForm(FlaskForm):
    kind = SelectField(
        _l("What the file holds"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()]
    )
    file = FileField(
        _l("CSV file (UTF-8, comma-separated, with its header row)"),
        validators=[FileRequired(message=_l("Choose the CSV file."))],
        render_kw={"accept": ".csv,text/csv"},
    )
    dry_run = BooleanField(_l("Only check it (a dry run: nothing changes)"), default=True)
