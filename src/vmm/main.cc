#include <cstdio>
int main() { std::puts("transvisor: under construction"); return 0; }
