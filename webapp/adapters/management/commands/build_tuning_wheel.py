"""Build the `tuning` wheel the dashboard offers beside adapter downloads, again from the sources as they
are, so the first person to ask for it does not wait and gets this code (bin/serve runs this at start)."""
from django.core.management.base import BaseCommand, CommandError

from webapp.integrations.tuning.wheel import WheelUnavailable, tuning_wheel


class Command(BaseCommand):
    help = "Build the tuning wheel served on the adapter pages and by the API (once per tuning version)."

    def handle(self, *args, **options):
        try:
            path = tuning_wheel(rebuild=True)
        except WheelUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"]:
            self.stdout.write(f"tuning wheel: {path}")
