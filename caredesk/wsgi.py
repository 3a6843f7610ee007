import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
application = get_wsgi_application()

# Everything loaded so far lives as long as the process: move it out of the garbage
# collector's reach, so full collections stay short (they paused requests for up to
# ~140 ms at 1M tickets; see docs/benchmarks.md).
gc.freeze()

from django.core.signals import request_started  # noqa: E402

from caredesk.core import checkpoints  # noqa: E402 (needs the settings loaded above)

request_started.connect(checkpoints.start_on_first_request)
