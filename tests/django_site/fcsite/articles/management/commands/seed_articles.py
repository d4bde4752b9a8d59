from django.core.management import call_command
from django.core.management.base import BaseCommand

from ...models import Article

ARTICLES = [("First", "python,django"), ("Second", "python"), ("Third", "rust"),
            ("Fourth", "rust,go")]


class Command(BaseCommand):
    help = "Creates the database (migrate) and the test articles (ids 1 to 4)."

    def handle(self, *args, **options):
        call_command("migrate", verbosity=0)
        for title, tags in ARTICLES:
            Article.objects.create(title=title, tags=tags)
        self.stdout.write("%d articles" % Article.objects.count())
