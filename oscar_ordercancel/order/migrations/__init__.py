# The fork changes no schema: load Oscar's own order migrations from their package.
import oscar.apps.order.migrations as _oscar_migrations

__path__ = list(__path__) + list(_oscar_migrations.__path__)  # noqa: F821
