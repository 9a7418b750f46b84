import os

from django.core.wsgi import get_wsgi_application

from portal.env import keep_files_private

# Before settings are read: the data dir, the database and its WAL are created private.
keep_files_private()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()
