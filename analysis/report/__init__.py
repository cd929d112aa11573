"""The report framework: sections in, one self-contained HTML folder out."""
