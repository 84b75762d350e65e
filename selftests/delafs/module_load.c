// SPDX-License-Identifier: GPL-2.0
/*
 * delafs.ko comes and goes cleanly: the filesystem type and the debugfs
 * directory exist exactly while the module is loaded, and the module cannot
 * be unloaded while something uses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define DEBUGFS_DIR "/sys/kernel/debug/delafs"

static const char *module_path(void)
{
	const char *path = getenv("DELAFS_KO");

	return path ? path : "./delafs.ko";
}

/* Returns 0 or -errno, like the kernel. */
static int load_module(void)
{
	int fd, ret = 0;

	fd = open(module_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		ret = -errno;
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, "delafs", O_NONBLOCK) ? -errno : 0;
}

static bool module_loaded(void)
{
	return access("/sys/module/delafs", F_OK) == 0;
}

/* Block-device filesystems appear in /proc/filesystems as "\t<name>". */
static bool filesystem_registered(void)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "\tdelafs\n"))
			found = true;
	fclose(f);
	return found;
}

static bool debugfs_dir_present(void)
{
	struct stat st;

	return stat(DEBUGFS_DIR, &st) == 0 && S_ISDIR(st.st_mode);
}

FIXTURE(module) {};

FIXTURE_SETUP(module)
{
	if (module_loaded())
		ASSERT_EQ(0, unload_module());
	ASSERT_FALSE(filesystem_registered());
	ASSERT_FALSE(debugfs_dir_present());
}

FIXTURE_TEARDOWN(module)
{
	if (module_loaded())
		EXPECT_EQ(0, unload_module());
}

TEST_F(module, load_registers_filesystem)
{
	ASSERT_EQ(0, load_module());
	EXPECT_TRUE(filesystem_registered());
	ASSERT_EQ(0, unload_module());
	EXPECT_FALSE(filesystem_registered());
	EXPECT_FALSE(module_loaded());
}

TEST_F(module, debugfs_dir_follows_module)
{
	char buf[64] = {};
	ssize_t n;
	int fd;

	ASSERT_EQ(0, load_module());
	ASSERT_TRUE(debugfs_dir_present());

	fd = open(DEBUGFS_DIR "/version", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	EXPECT_STREQ("format 1\n", buf);

	ASSERT_EQ(0, unload_module());
	EXPECT_FALSE(debugfs_dir_present());
}

TEST_F(module, debugfs_files_are_read_only)
{
	struct stat st;
	int fd;

	ASSERT_EQ(0, load_module());
	ASSERT_EQ(0, stat(DEBUGFS_DIR "/version", &st));
	EXPECT_EQ(0444, st.st_mode & 07777);

	/* Root may open it for writing, but there is nothing to write to. */
	fd = open(DEBUGFS_DIR "/version", O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, "1\n", 2));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(module, unload_refused_while_in_use)
{
	int fd;

	ASSERT_EQ(0, load_module());
	/* An open debugfs file pins the module through its file operations. */
	fd = open(DEBUGFS_DIR "/version", O_RDONLY);
	ASSERT_LE(0, fd);

	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	EXPECT_TRUE(module_loaded());
	EXPECT_TRUE(filesystem_registered());

	close(fd);
	EXPECT_EQ(0, unload_module());
	EXPECT_FALSE(filesystem_registered());
}

TEST_F(module, second_load_refused)
{
	ASSERT_EQ(0, load_module());
	EXPECT_EQ(-EEXIST, load_module());
	EXPECT_TRUE(filesystem_registered());
}

TEST_F(module, repeated_load_unload)
{
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, load_module());
		ASSERT_TRUE(filesystem_registered());
		ASSERT_TRUE(debugfs_dir_present());
		ASSERT_EQ(0, unload_module());
		ASSERT_FALSE(filesystem_registered());
		ASSERT_FALSE(debugfs_dir_present());
	}
}

TEST_HARNESS_MAIN
