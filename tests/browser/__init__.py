"""Real browsers (Debian's chromium and firefox-esr, headless) against `tlskit serve`."""
