#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <string.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static float *buf; static size_t N;
typedef struct {size_t b,e; float r;} arg;
__attribute__((target("avx512f"))) static void *rd(void *a_){arg*a=a_; __m512 s0=_mm512_setzero_ps(),s1=s0,s2=s0,s3=s0;
 for(size_t i=a->b;i<a->e;i+=64){s0=_mm512_add_ps(s0,_mm512_load_ps(buf+i));s1=_mm512_add_ps(s1,_mm512_load_ps(buf+i+16));s2=_mm512_add_ps(s2,_mm512_load_ps(buf+i+32));s3=_mm512_add_ps(s3,_mm512_load_ps(buf+i+48));}
 a->r=_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0,s1),_mm512_add_ps(s2,s3))); return NULL;}
int main(){N=(size_t)1<<28; buf=aligned_alloc(64,N*4); memset(buf,0,N*4);
 for(int t=1;t<=2;t++) for(int r=0;r<4;r++){pthread_t th[2]; arg a[2]; double t0=now();
  for(int i=0;i<t;i++){a[i].b=N/t*i;a[i].e=N/t*(i+1);pthread_create(&th[i],0,rd,&a[i]);} for(int i=0;i<t;i++)pthread_join(th[i],0);
  double d=now()-t0; printf("threads %d: %.1f GB/s\n",t,N*4/d/1e9);} }
