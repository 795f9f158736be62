"""A shop's fork of the core app ``oscar_ordercancel`` that replaces one model.

Built the way Oscar's ``oscar_fork_app`` builds a fork: an app config that
subclasses the package's with the fork's own ``name`` (the label stays
``oscar_ordercancel``), a ``models.py`` that defines the replaced model and
then imports the package's models (each defined only when not registered), the
package's migrations copied, plus the fork's own. ``OrderCancellation`` gains
an ``erp_reference``.

The package keeps its templates, static files, translations, template tag
libraries and management commands in the ``oscar_ordercancel`` folder, which
is no longer an installed app once it is forked: the fork lists the template
tag libraries and commands as one-line modules, and the settings name the
package's folders of templates, static files and translations
(``tests/settings.py``, ``ORDERCANCEL_MODEL_FORK=1``).
"""
