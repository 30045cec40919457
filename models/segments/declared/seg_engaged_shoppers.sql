{{ cdp.saved_segment() }}
