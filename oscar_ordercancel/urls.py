"""Mount with ``path("", include("oscar_ordercancel.urls"))`` before Oscar's own URLs."""

app_name = "oscar_ordercancel"

urlpatterns = []
