// SPDX-License-Identifier: GPL-2.0
/*
 * dir_cookies: readdir positions of a directory.
 *
 *   dir_cookies list DIR     one line per entry (not . and ..):
 *                            "NAME BEFORE AFTER", telldir() before and
 *                            after readdir() returned it
 *   dir_cookies seek DIR     reads "NAME BEFORE AFTER" lines on stdin;
 *                            for each, seekdir(BEFORE) and readdir() must
 *                            return NAME, and telldir() then AFTER
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int list(DIR *d)
{
	struct dirent *e;

	for (;;) {
		long before = telldir(d);

		e = readdir(d);
		if (!e)
			return 0;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		printf("%s %ld %ld\n", e->d_name, before, telldir(d));
	}
}

static int seek(DIR *d)
{
	char name[512];
	long before, after;
	int bad = 0, n = 0;

	while (scanf("%511s %ld %ld", name, &before, &after) == 3) {
		struct dirent *e;

		seekdir(d, before);
		e = readdir(d);
		n++;
		if (!e || strcmp(e->d_name, name) || telldir(d) != after) {
			if (bad++ < 5)
				fprintf(stderr, "seekdir(%ld): got %s at %ld, want %s at %ld\n",
					before, e ? e->d_name : "(end)", telldir(d), name, after);
		}
	}
	fprintf(stderr, "%d positions, %d wrong\n", n, bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	DIR *d;

	if (argc != 3 || (strcmp(argv[1], "list") && strcmp(argv[1], "seek"))) {
		fprintf(stderr, "usage: %s list|seek DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[2]);
	if (!d) {
		perror(argv[2]);
		return 1;
	}
	return strcmp(argv[1], "list") ? seek(d) : list(d);
}
