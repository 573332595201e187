"""Everything that touches arXiv: the client, PDF download and text extraction, and the local mirror."""
