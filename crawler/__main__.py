"""`python -m crawler` is `bantin`: the service starts crawl children this way."""

from crawler.cli import main

if __name__ == "__main__":
    main()
