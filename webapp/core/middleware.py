"""Response headers every page gets."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Scripts only from our own static files (no inline script, no other site), so text that slips
    into a page as markup still cannot run; styles may be inline because Plotly writes its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
