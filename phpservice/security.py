"""Security headers that Django's own middleware does not set.

Django's ``SecurityMiddleware`` sends HSTS, ``X-Content-Type-Options``,
``Referrer-Policy`` and ``Cross-Origin-Opener-Policy``, and the clickjacking
middleware ``X-Frame-Options``. Here every answer that is not a page (the API's
JSON) also gets a Content-Security-Policy that allows nothing, and no answer is
kept by a cache unless its view said otherwise: they carry tokens and customer
data.
"""

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Pages (the admin) keep their scripts and styles; they only may not be framed.
PAGE_CONTENT_SECURITY_POLICY = "frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    """Add ``Content-Security-Policy`` and ``Cache-Control: no-store``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if "Content-Security-Policy" not in response:
            is_page = content_type.startswith("text/html")
            response["Content-Security-Policy"] = (
                PAGE_CONTENT_SECURITY_POLICY if is_page else API_CONTENT_SECURITY_POLICY
            )
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response
